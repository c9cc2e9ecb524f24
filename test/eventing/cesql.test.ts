// CESQL v1 table tests, cases taken from the spec's text and its TCK categories (literals, operators, casting,
// LIKE, IN, EXISTS, functions, missing attributes, precedence).
import { describe, expect, it } from 'vitest';
import { cesqlMatches, evaluateCesql, parseCesql } from '../../src/eventing/cesql.js';

const event = {
  specversion: '1.0',
  id: 'myId',
  source: 'http://localhost/source',
  type: 'myType',
  subject: 'mySubject',
  time: '2018-04-26T14:48:09+02:00',
  myext: 'my extension',
  sequence: '7',
  mybool: true,
  myint: 10,
};

type Case = [expr: string, result: string | number | boolean, error?: boolean];

const cases: Record<string, Case[]> = {
  literals: [
    ['TRUE', true],
    ['false', false],
    ["'abc'", 'abc'],
    ['"abc"', 'abc'],
    ["'a\\'b'", "a'b"],
    ['"a\\"b"', 'a"b'],
    ['123', 123],
    ['-2147483648', -2147483648],
  ],
  attributes: [
    ['id', 'myId'],
    ['subject', 'mySubject'],
    ['time', '2018-04-26T14:48:09+02:00'],
    ['mybool', true],
    ['myint', 10],
    ['myext', 'my extension'],
    ['missing', '', true],
  ],
  comparison: [
    ['TRUE = FALSE', false],
    ['FALSE = FALSE', true],
    ['1 = 2', false],
    ['2 = 2', true],
    ["'abc' = 'abc'", true],
    ["'abc' != '123'", true],
    ['2 <> 2', false],
    ['2 <= 2', true],
    ['3 <= 2', false],
    ['1 < 2', true],
    ['2 > 1', true],
    ['2 >= 3', false],
    ["true = 'TRUE'", false], // right is a string: left cast to 'true'
    ["'TRUE' = true", true], // right is a boolean: left cast with BOOL
    ['sequence = 7', true],
    ["myint = '10'", true],
    ['missing = 2', false, true],
    ['missing != 2', false, true],
    ['missing <= 2', false, true],
  ],
  logic: [
    ['TRUE AND FALSE', false],
    ['TRUE OR FALSE', true],
    ['TRUE XOR TRUE', false],
    ['NOT TRUE', false],
    ['FALSE AND missing', false], // short-circuit: the missing attribute is never read
    ['TRUE OR missing', true],
    ['TRUE AND (missing = "")', false, true],
    ['NOT missing', false, true],
    ["NOT 'ABC'", true, true], // cast error, zero value false, negated
  ],
  arithmetic: [
    ['4 * 5', 20],
    ['5 / 2', 2],
    ['-5 / 2', -2],
    ['5 % 3', 2],
    ['-5 % 3', -2],
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['5 - 3 - 1', 1],
    ['5 / 0', 0, true],
    ['5 % 0', 0, true],
    ['-myint', -10],
    ['2147483647 + 1', -2147483648],
    ['sequence + 1 = 8', true],
  ],
  like: [
    ["'abc' LIKE 'abc'", true],
    ["'abc' LIKE 'a%'", true],
    ["'abc' LIKE '%c'", true],
    ["'abc' LIKE 'a_c'", true],
    ["'ac' LIKE 'a_c'", false],
    ["'abc' NOT LIKE 'a%'", false],
    ["'abc%' LIKE 'abc\\%'", true],
    ["'abcd' LIKE 'abc\\%'", false],
    ["'a.c' LIKE 'a.c'", true],
    ["'abc' LIKE 'a.c'", false],
    ['myext LIKE \'my%\'', true],
    ["missing LIKE 'x'", false, true],
  ],
  in: [
    ["'a' IN ('a', 'b')", true],
    ["'c' IN ('a', 'b')", false],
    ["'c' NOT IN ('a', 'b')", true],
    ['1 IN (1, 2)', true],
    ["1 IN ('1', 2)", true], // set elements are cast to the left's type
    ['myint IN (10, 20)', true],
    ['missing IN (1)', false, true],
  ],
  exists: [
    ['EXISTS id', true],
    ['EXISTS myext', true],
    ['EXISTS missing', false],
    ['EXISTS missing AND missing = 1', false],
  ],
  functions: [
    ["LENGTH('abc')", 3],
    ["LENGTH('€uro')", 4],
    ["CONCAT('a', 'b', 'c')", 'abc'],
    ['CONCAT()', ''],
    ["CONCAT_WS(',', 'a', 'b')", 'a,b'],
    ["LOWER('ABC')", 'abc'],
    ["upper('abc')", 'ABC'],
    ["TRIM('  a  ')", 'a'],
    ["LEFT('abc', 2)", 'ab'],
    ["LEFT('abc', 5)", 'abc'],
    ["LEFT('abc', -1)", 'abc', true],
    ["RIGHT('abc', 2)", 'bc'],
    ["SUBSTRING('abcdef', 2)", 'bcdef'],
    ["SUBSTRING('abcdef', -2)", 'ef'],
    ["SUBSTRING('abcdef', 2, 3)", 'bcd'],
    ["SUBSTRING('abcdef', 0)", ''],
    ["SUBSTRING('abc', 10)", '', true],
    ['ABS(-3)', 3],
    ['ABS(-2147483648)', 2147483647, true],
    ["INT('1')", 1],
    ["INT('-1')", -1],
    ['INT(TRUE)', 1],
    ["INT('ABC')", 0, true],
    ["BOOL('TRUE')", true],
    ['BOOL("false")', false],
    ["BOOL('ABC')", false, true],
    ['BOOL(0)', false],
    ['BOOL(-50)', true],
    ['STRING(TRUE)', 'true'],
    ['STRING(-1)', '-1'],
    ["IS_INT('12')", true],
    ["IS_BOOL('nope')", false],
    ['LENGTH(missing)', 0, true],
  ],
  precedence: [
    ['NOT TRUE AND FALSE', false], // (NOT TRUE) AND FALSE
    ['NOT FALSE AND TRUE', true],
    ['TRUE OR TRUE AND FALSE', true], // one right-associative level: TRUE OR (TRUE AND FALSE)
    ['FALSE AND TRUE OR TRUE', false], // FALSE AND (TRUE OR TRUE)
    ['1 + 1 = 2 AND 2 * 2 = 4', true],
    ["int(sequence) < 10 and myext like 'my%'", true],
  ],
};

describe('CESQL evaluation', () => {
  for (const [group, rows] of Object.entries(cases)) {
    it.each(rows)(`${group}: %s`, (expr, result, error) => {
      const out = evaluateCesql(parseCesql(expr), event);
      expect(out.value).toEqual(result);
      expect(out.errors.length > 0, `errors: ${out.errors.join('; ')}`).toBe(Boolean(error));
    });
  }
});

describe('CESQL as a filter', () => {
  it('passes only on boolean true without errors; a missing attribute fails', () => {
    expect(cesqlMatches(parseCesql("type = 'myType'"), event)).toBe(true);
    expect(cesqlMatches(parseCesql("type = 'other'"), event)).toBe(false);
    expect(cesqlMatches(parseCesql("missing = 'x' OR TRUE"), event)).toBe(false); // error → fail even though value is true
    expect(cesqlMatches(parseCesql('NOT (missing = 1)'), event)).toBe(false);
    expect(cesqlMatches(parseCesql("'x'"), event)).toBe(false); // not a boolean
  });
});

describe('CESQL syntax errors', () => {
  it.each([
    ['', /unexpected end/],
    ['1 +', /unexpected end/],
    ["'unterminated", /unterminated/],
    ['(1 = 1', /expected "\)"/],
    ['FOO(1)', /unknown function/],
    ['LENGTH(1, 2)', /does not take 2/],
    ['Type = 1', /invalid attribute name/],
    ['2147483648', /out of 32-bit range/],
    ["a LIKE b", /string literal pattern/],
    ['EXISTS', /attribute name/],
    ['1 = 1 garbage', /unexpected token/],
    ['a # b', /unexpected character/],
  ])('%s', (expr, msg) => {
    expect(() => parseCesql(expr)).toThrow(msg);
  });
});
