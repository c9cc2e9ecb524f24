// On-disk framing of one event in a log segment:
//   u32 payload length | u32 CRC-32 of payload | payload
//   payload = u8 version (1) | u8 flags (bit 0: has data) | u32 meta length | meta JSON [attrs, headers] | data
// Length + CRC let recovery find a torn tail after kill -9 (short frame or CRC mismatch) and cut it off.
import { crc32 } from 'node:zlib';
import type { CloudEvent } from './event.js';

export const FRAME_HEADER = 8;
const VERSION = 1;

export function encodeRecord(ev: CloudEvent): Buffer {
  const meta = Buffer.from(JSON.stringify(ev.headers ? [ev.attrs, ev.headers] : [ev.attrs]), 'utf8');
  const dataLen = ev.data ? ev.data.length : 0;
  const payloadLen = 6 + meta.length + dataLen;
  const buf = Buffer.allocUnsafe(FRAME_HEADER + payloadLen);
  buf.writeUInt32LE(payloadLen, 0);
  buf[8] = VERSION;
  buf[9] = ev.data ? 1 : 0;
  buf.writeUInt32LE(meta.length, 10);
  meta.copy(buf, 14);
  if (ev.data) ev.data.copy(buf, 14 + meta.length);
  buf.writeUInt32LE(crc32(buf.subarray(FRAME_HEADER)), 4);
  return buf;
}

/** Decode a payload (the bytes after the frame header). The data is a copy, so the segment buffer can be dropped. */
export function decodePayload(p: Buffer): CloudEvent {
  if (p[0] !== VERSION) throw new Error(`unknown record version ${p[0]}`);
  const hasData = (p[1]! & 1) === 1;
  const metaLen = p.readUInt32LE(2);
  const meta = JSON.parse(p.toString('utf8', 6, 6 + metaLen)) as [CloudEvent['attrs'], string[]?];
  const data = hasData ? Buffer.from(p.subarray(6 + metaLen)) : null;
  return { attrs: meta[0], data, headers: meta[1] ?? null };
}

export interface ScanResult {
  /** Byte offsets of each valid frame's start. */
  positions: number[];
  /** Length of the valid prefix; anything after it is a torn or corrupt tail. */
  validBytes: number;
}

/** Walk the frames of a segment's bytes, stopping at the first short or corrupt one. */
export function scanFrames(buf: Buffer): ScanResult {
  const positions: number[] = [];
  let pos = 0;
  while (pos + FRAME_HEADER <= buf.length) {
    const len = buf.readUInt32LE(pos);
    const end = pos + FRAME_HEADER + len;
    if (len < 6 || end > buf.length) break;
    if (crc32(buf.subarray(pos + FRAME_HEADER, end)) !== buf.readUInt32LE(pos + 4)) break;
    positions.push(pos);
    pos = end;
  }
  return { positions, validBytes: pos };
}
