// CloudEvents codec units: header percent-encoding both ways, quoted strings, structured round trips for JSON,
// text and binary data, 0.3's datacontentencoding, and the reply detector.
import { describe, expect, it } from 'vitest';
import { binaryHeaders, CodecError, decodeHeaderValue, decodeMessage, encodeHeaderValue, looksLikeEvent, structuredBody } from '../../src/eventing/codec.js';
import type { CloudEvent } from '../../src/eventing/event.js';

describe('header values', () => {
  it.each([
    ['plain', 'plain'],
    ['Euro%20%E2%82%AC', 'Euro €'],
    ['lower%c3%a9', 'loweré'],
    ['%41BC', 'ABC'], // unnecessary encoding is accepted
    ['"quoted \\"x\\""', 'quoted "x"'],
    ['"a%20b"', 'a b'],
  ])('decode %s', (raw, want) => expect(decodeHeaderValue(raw, 'x')).toBe(want));

  it.each(['x%C0%A0', 'x%ff', 'x%', 'x%2', 'x%zz'])('rejects %s', (raw) => {
    expect(() => decodeHeaderValue(raw, 'x')).toThrow(CodecError);
  });

  it('encodes space, quote, percent and non-ASCII; round-trips', () => {
    const v = 'a b"c%d €\u00e9';
    const enc = encodeHeaderValue(v);
    expect(enc).toBe('a%20b%22c%25d%20%E2%82%AC%C3%A9');
    expect(decodeHeaderValue(enc, 'x')).toBe(v);
    expect(encodeHeaderValue('http://x/y?z=1&q')).toBe('http://x/y?z=1&q');
  });
});

const base = { specversion: '1.0', id: '1', source: '/s', type: 't' };

describe('structured mode', () => {
  it('JSON data stays JSON; absent datacontenttype means application/json', () => {
    const ev = decodeMessage({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify({ ...base, data: { a: [1, 2] } })));
    expect(ev.attrs.datacontenttype).toBe('application/json');
    expect(ev.data!.toString()).toBe('{"a":[1,2]}');
    expect(JSON.parse(structuredBody(ev, null))).toEqual({ ...base, datacontenttype: 'application/json', data: { a: [1, 2] } });
  });

  it('a JSON string is data as-is (not parsed again); text data stays text; binary becomes data_base64', () => {
    const s = decodeMessage({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify({ ...base, data: '{"not":"parsed"}' })));
    expect(s.data!.toString()).toBe('"{\\"not\\":\\"parsed\\"}"');
    const t = decodeMessage({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify({ ...base, datacontenttype: 'text/plain', data: 'héllo' })));
    expect(t.data!.toString()).toBe('héllo');
    expect(JSON.parse(structuredBody(t, null)).data).toBe('héllo');
    const bin: CloudEvent = { attrs: { ...base, datacontenttype: 'application/octet-stream' }, data: Buffer.from([0, 255]), headers: null };
    expect(JSON.parse(structuredBody(bin, null))).toMatchObject({ data_base64: 'AP8=' });
  });

  it('0.3 datacontentencoding base64 decodes to bytes and re-encodes the 0.3 way', () => {
    const ev = decodeMessage({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify({ ...base, specversion: '0.3', datacontenttype: 'application/octet-stream', datacontentencoding: 'base64', data: 'AQID' })));
    expect([...ev.data!]).toEqual([1, 2, 3]);
    expect(ev.attrs.datacontentencoding).toBeUndefined();
    expect(JSON.parse(structuredBody(ev, null))).toMatchObject({ specversion: '0.3', datacontentencoding: 'base64', data: 'AQID' });
  });

  it('null attributes are absent; integer and boolean extensions keep their type; floats and objects are rejected', () => {
    const ev = decodeMessage({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify({ ...base, subject: null, n: 3, b: true })));
    expect(ev.attrs).toEqual({ ...base, n: 3, b: true });
    expect(() => decodeMessage({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify({ ...base, n: 1.5 })))).toThrow(CodecError);
    expect(() => decodeMessage({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify({ ...base, o: {} })))).toThrow(CodecError);
    expect(() => decodeMessage({ 'content-type': 'application/cloudevents+xml' }, Buffer.from('<x/>'))).toThrow(/unsupported structured format/);
    const badUtf8 = Buffer.concat([Buffer.from('{"specversion":"1.0","id":"1","source":"/s","type":"t","x":"'), Buffer.from([0xc0, 0xa0]), Buffer.from('"}')]);
    expect(() => decodeMessage({ 'content-type': 'application/cloudevents+json' }, badUtf8)).toThrow(/not valid UTF-8/);
  });
});

describe('binary mode', () => {
  it('builds ce-* headers without the skipped attribute, Content-Type from datacontenttype, plus pass-through headers', () => {
    const ev: CloudEvent = { attrs: { ...base, datacontenttype: 'text/plain', knativebrokerttl: 255, myext: 'a b' }, data: Buffer.from('x'), headers: ['x-request-id', 'r1'] };
    const h = binaryHeaders(ev, 'knativebrokerttl', []);
    const obj = Object.fromEntries(Array.from({ length: h.length / 2 }, (_, i) => [h[2 * i], h[2 * i + 1]]));
    expect(obj).toEqual({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'content-type': 'text/plain', 'ce-myext': 'a%20b', 'x-request-id': 'r1' });
  });

  it('detects events in responses', () => {
    expect(looksLikeEvent({ 'ce-specversion': '1.0' })).toBe(true);
    expect(looksLikeEvent({ 'content-type': 'application/cloudevents+json; charset=utf-8' })).toBe(true);
    expect(looksLikeEvent({ 'content-type': 'text/plain' })).toBe(false);
  });
});
