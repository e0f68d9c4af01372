// The channel to the host: JSON-RPC 2.0, one JSON text per line, over the
// socket the host hands the worker as a file descriptor. Lines are framed on
// the way in; writes are coalesced on the way out. Binary values travel as
// frames before the line that refers to them: a 0 byte (no JSON text starts
// with one), the length as a little-endian u32, the bytes.

import net from 'node:net';
import { Buffer } from 'node:buffer';
import { CODES } from './00_codes.mjs';
import { nowMs } from './01_clock.mjs';
import { config } from './02_config.mjs';

let channel = null;
/** Lines (strings, without their newline) and frames' parts (Buffers), in order. */
let outQueue = [];
/** Whether `outQueue` holds any Buffer. */
let queuedBinary = false;
/** What a message without frames is handed. */
const NO_FRAMES = Object.freeze([]);
/** When the last write left (ms on the runtime's clock). */
let lastWrite = 0;
let flushScheduled = false;

/** What the channel carried, for the host's `stats` request. */
const channelStats = { reads: 0, messagesIn: 0, writes: 0, messagesOut: 0 };

/**
 * Whether this turn of the event loop has written already. The first write
 * of a turn leaves at once (after the microtasks queued so far: everything a
 * burst of synchronous work sends goes out together); what is sent later in
 * the same turn (many timers or I/O callbacks finishing runs) waits for the
 * end of the turn and goes out in one write.
 */
let wroteThisTurn = false;

/**
 * Whether a read from the host is being handled: what it sends leaves in
 * the one write that ends the read (`connect`), with nothing scheduled.
 */
let reading = false;

/** Queues one message (a JSON text without its newline), after the frames (Buffers) it refers to. */
export function send(text, frames) {
  if (frames !== undefined && frames.length > 0) {
    for (const frame of frames) {
      const header = Buffer.allocUnsafe(5);
      header[0] = 0;
      header.writeUInt32LE(frame.length, 1);
      outQueue.push(header, frame);
    }
    queuedBinary = true;
  }
  outQueue.push(text);
  if (!flushScheduled && !reading) {
    flushScheduled = true;
    if (wroteThisTurn) setImmediate(flushDeferred);
    else queueMicrotask(flush);
  }
}

function flush() {
  flushScheduled = false;
  if (outQueue.length === 0 || channel === null) return;
  write();
  if (!wroteThisTurn) {
    wroteThisTurn = true;
    setImmediate(endTurn);
  }
}

function flushDeferred() {
  flushScheduled = false;
  if (outQueue.length > 0 && channel !== null) write();
}

function endTurn() {
  wroteThisTurn = false;
}

function write() {
  channelStats.writes++;
  lastWrite = nowMs();
  if (queuedBinary) {
    // The frames are the runtime's own copies (04_json.mjs): they go out as
    // they are, with the lines between them, in one corked write, rather
    // than copied once more into a single buffer.
    const parts = outQueue;
    outQueue = [];
    queuedBinary = false;
    let text = '';
    channel.cork();
    for (const part of parts) {
      if (typeof part === 'string') {
        text += part + '\n';
        channelStats.messagesOut++;
        continue;
      }
      if (text !== '') channel.write(text);
      text = '';
      channel.write(part);
    }
    if (text !== '') channel.write(text);
    channel.uncork();
    return;
  }
  const data = outQueue.length === 1 ? outQueue[0] + '\n' : outQueue.join('\n') + '\n';
  channelStats.messagesOut += outQueue.length;
  outQueue = [];
  channel.write(data);
}

/** How long since the last write left, in ms. */
export function sinceLastWrite() {
  return nowMs() - lastWrite;
}

/** Answers request `id` with a result already in JSON, after the frames its placeholders refer to. */
export function respond(id, resultJson, frames) {
  const idJson = typeof id === 'number' ? String(id) : JSON.stringify(id);
  send('{"jsonrpc":"2.0","id":' + idJson + ',"result":' + resultJson + '}', frames);
}

/** Answers request `id` with an error (`data` only when given). */
export function respondError(id, code, message, data) {
  const error = { code, message };
  if (data !== undefined) error.data = data;
  send(JSON.stringify({ jsonrpc: '2.0', id, error }));
}

/** Sends a notification whose params are already in JSON, after the frames they refer to. */
export function notify(method, paramsJson, frames) {
  send('{"jsonrpc":"2.0","method":"' + method + '","params":' + paramsJson + '}', frames);
}

/**
 * Feeds raw bytes from the channel; calls `onLine(line, frames)` for every
 * complete line, with the frames (Buffers) that came before it.
 */
export function createLineReader(onLine, maxLineBytes) {
  let parts = [];
  let partBytes = 0;
  let frames = NO_FRAMES;
  let framedBytes = 0;
  /** The header of a frame split between chunks, so far. */
  let header = null;
  /** A frame split between chunks, and how much of it has come. */
  let frame = null;
  let filled = 0;
  return (chunk) => {
    let start = 0;
    while (start < chunk.length) {
      if (frame !== null) {
        const n = Math.min(frame.length - filled, chunk.length - start);
        chunk.copy(frame, filled, start, start + n);
        filled += n;
        start += n;
        if (filled === frame.length) {
          frames.push(frame);
          frame = null;
        }
        continue;
      }
      // A frame starts where a line could: JSON text never holds a 0 byte.
      if (header !== null || (parts.length === 0 && chunk[start] === 0)) {
        if (header === null) header = [];
        while (header.length < 5 && start < chunk.length) header.push(chunk[start++]);
        if (header.length < 5) break;
        const length = (header[1] | (header[2] << 8) | (header[3] << 16) | (header[4] << 24)) >>> 0;
        header = null;
        framedBytes += length;
        if (framedBytes > maxLineBytes()) {
          throw new Error(`binary data from the host exceeds ${maxLineBytes()} bytes`);
        }
        if (frames === NO_FRAMES) frames = [];
        if (chunk.length - start >= length) {
          frames.push(Buffer.from(chunk.subarray(start, start + length)));
          start += length;
        } else {
          frame = Buffer.allocUnsafe(length);
          filled = 0;
        }
        continue;
      }
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      let line;
      if (parts.length > 0) {
        parts.push(chunk.subarray(start, nl));
        line = Buffer.concat(parts).toString('utf8');
        parts = [];
        partBytes = 0;
      } else {
        line = chunk.toString('utf8', start, nl);
      }
      start = nl + 1;
      if (line.length > 0) {
        const these = frames;
        frames = NO_FRAMES;
        framedBytes = 0;
        onLine(line, these);
      }
    }
    if (start < chunk.length) {
      parts.push(chunk.subarray(start));
      partBytes += chunk.length - start;
      if (partBytes > maxLineBytes()) {
        throw new Error(`message from the host exceeds ${maxLineBytes()} bytes`);
      }
    }
  };
}

/**
 * Opens the channel on `fd` and hands every line read to `onLine`. The
 * worker lives as long as the channel: it exits when the host closes it.
 */
export function connect(fd, onLine) {
  const exit = () => process.exit(0);
  const read = createLineReader((line, frames) => {
    channelStats.messagesIn++;
    onLine(line, frames);
  }, () => config.maxMessageBytes + 1024 * 1024);
  const onData = (chunk) => {
    channelStats.reads++;
    try {
      reading = true;
      try {
        read(chunk);
      } finally {
        reading = false;
      }
      // Answers ready now go out in one write, without waiting for the loop.
      if (outQueue.length > 0 && channel !== null) write();
    } catch (error) {
      respondError(null, CODES.LIMIT, error.message);
      flush();
      process.exit(3);
    }
  };
  if (globalThis.Bun !== undefined) {
    channel = connectBun(fd, onData, exit);
    return;
  }
  channel = new net.Socket({ fd, readable: true, writable: true });
  channel.on('end', exit);
  channel.on('close', exit);
  channel.on('error', exit);
  channel.on('data', onData);
}

/**
 * The channel on Bun, whose `net.Socket` does nothing with a descriptor:
 * `Bun.connect({ fd })`, behind the `write`/`end` the rest of the runtime
 * uses. Its socket may take only part of a write; the rest waits, in
 * order, for `drain`. What is written before it is connected waits too.
 */
function connectBun(fd, onData, exit) {
  let socket = null;
  /** Bytes the socket has not taken yet, oldest first. */
  let pending = [];
  let ending = false;
  const pump = () => {
    while (pending.length > 0) {
      const chunk = pending[0];
      const written = socket.write(chunk);
      if (written < 0) return exit();
      if (written < chunk.length) {
        pending[0] = chunk.subarray(written);
        return;
      }
      pending.shift();
    }
    if (ending) socket.end();
  };
  const opened = (s) => {
    if (socket !== null) return;
    socket = s;
    pump();
  };
  Bun.connect({
    fd,
    socket: {
      open: opened,
      // A copy: the line reader keeps the tail of a chunk until its line ends.
      data: (s, chunk) => {
        opened(s);
        onData(Buffer.from(chunk));
      },
      drain: () => pump(),
      end: exit,
      close: exit,
      error: exit,
      connectError: exit,
    },
  }).then(opened, exit);
  let corked = false;
  return {
    write(data) {
      pending.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      // More than one waiting: the socket is full, `drain` writes them.
      if (socket !== null && pending.length === 1 && !corked) pump();
    },
    // As `net.Socket`'s: what is written in between goes out together.
    cork() {
      corked = true;
    },
    uncork() {
      corked = false;
      if (socket !== null) pump();
    },
    end() {
      ending = true;
      if (socket !== null && pending.length === 0) socket.end();
    },
  };
}

/** Sends what is queued and ends the channel (the `shutdown` notification). */
export function closeChannel() {
  flush();
  channel.end();
}

/** A copy of the channel's counters. */
export function channelCounters() {
  return { ...channelStats };
}
