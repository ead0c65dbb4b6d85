// The runtime's floor: a minimal Bun.listen server on a unix socket that echoes each length-prefixed frame.
// usage: bun bench/echo-bun.ts SOCKET

const path = process.argv[2]!;
type Buf = { pending: Buffer | null };
Bun.listen<Buf>({
  unix: path,
  socket: {
    open(s) {
      s.data = { pending: null };
    },
    data(s, chunk) {
      let buf = s.data.pending ? Buffer.concat([s.data.pending, chunk]) : chunk;
      let off = 0;
      while (buf.length - off >= 4) {
        const len = buf.readUInt32BE(off);
        if (buf.length - off < 4 + len) break;
        s.write(buf.subarray(off, off + 4 + len));
        off += 4 + len;
      }
      s.data.pending = off < buf.length ? buf.subarray(off) : null;
    },
  },
});
console.log("ready");
