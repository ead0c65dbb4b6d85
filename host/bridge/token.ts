// The bridge's token file: its default place, created when missing (32 random bytes, 0600, in a 0700 directory), refused when others can read it.

import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { mvmConfigDir } from "../client/vm-list.ts";

/** A token file larger than this is not a token file. */
export const TOKEN_FILE_MAX_BYTES = 4096;
/** Random bytes in a token the bridge creates (base64url: 43 characters). */
const TOKEN_BYTES = 32;

/** A token file that cannot be used; the message names the file and the fix. */
export class TokenFileError extends Error {
  override name = "TokenFileError";
}

/** `$XDG_CONFIG_HOME/mvm/bridge-token`, else `~/.config/mvm/bridge-token`. */
export function defaultTokenFile(env: Record<string, string | undefined>): string {
  return join(mvmConfigDir(env), "bridge-token");
}

/** A token is one word of printable ASCII (it goes in headers and in `?token=`). */
export function checkToken(token: string, where: string): string {
  if (token === "") throw new TokenFileError(`${where}: the token is empty`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw new TokenFileError(`${where}: the token must be printable ASCII without spaces or control characters`);
  return token;
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/**
 * Read a token file: a regular file (opened without blocking: a FIFO is refused, not waited on), at
 * most TOKEN_FILE_MAX_BYTES, owned by this user or root, and neither readable nor writable by group
 * or others (as ssh treats keys). Throws TokenFileError; `ENOENT` errors are passed through as they are.
 */
function readTokenFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new TokenFileError(`${path} is not a regular file`);
    if (st.mode & 0o077) throw new TokenFileError(`${path} has mode ${octal(st.mode)}: group or others can read or change the token; run chmod 600 ${path}`);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) throw new TokenFileError(`${path} is owned by uid ${st.uid}, not by this user (uid ${uid}) or root`);
    if (st.size > TOKEN_FILE_MAX_BYTES) throw new TokenFileError(`${path} is ${st.size} bytes; a token file holds one token (at most ${TOKEN_FILE_MAX_BYTES} bytes)`);
    const buf = Buffer.alloc(TOKEN_FILE_MAX_BYTES + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, null);
    if (n > TOKEN_FILE_MAX_BYTES) throw new TokenFileError(`${path} grew past ${TOKEN_FILE_MAX_BYTES} bytes while being read`);
    return checkToken(buf.subarray(0, n).toString("utf8").trim(), path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Write a new random token to `path`, never readable by anyone else for an instant: the directory
 * is made 0700 when it does not exist, the token goes to a temp file created 0600 beside it, which
 * is then hard-linked to `path` (so a file another process made first wins, and is read instead).
 * False when that happened.
 */
function createTokenFile(path: string): boolean {
  const dir = dirname(path);
  if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) chmodSync(dir, 0o700);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, `${randomBytes(TOKEN_BYTES).toString("base64url")}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return false;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * The token in `path`, created first when the file does not exist.
 * @example const { token, created } = loadOrCreateToken(defaultTokenFile(process.env));
 */
export function loadOrCreateToken(file: string): { token: string; path: string; created: boolean } {
  const path = resolve(file);
  try {
    return { token: readTokenFile(path), path, created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw wrap(e, path);
  }
  try {
    const created = createTokenFile(path);
    return { token: readTokenFile(path), path, created };
  } catch (e) {
    throw wrap(e, path);
  }
}

function wrap(e: unknown, path: string): TokenFileError {
  if (e instanceof TokenFileError) return e;
  return new TokenFileError(`token file ${path}: ${(e as Error).message}`);
}
