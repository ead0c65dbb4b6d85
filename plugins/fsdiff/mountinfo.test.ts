// Tests of mountinfo parsing: escapes, lowerdir lists, the visible overlay at a mount point.

import { describe, expect, test } from "bun:test";
import { findOverlay, overlayOptions, parseMountinfo, parseMountinfoLine, splitLowerdir, unescapeOctal } from "./mountinfo.ts";

// Shapes copied from a 6.x kernel, with escapes: a space (\040), a backslash-escaped colon (\134:), a tab.
const FIXTURE = [
  "22 1 252:1 / / ro,relatime shared:1 - ext4 /dev/vda ro",
  "23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw",
  "30 22 0:30 / / rw,relatime shared:9 - overlay overlay rw,lowerdir=/run/ro\\040root\\134:1:/run/base,upperdir=/run/overlay/upper,workdir=/run/overlay/work,uuid=on",
  "31 22 0:31 / /merged\\040dir rw master:3 propagation:x - overlay my\\011src rw,lowerdir=/a::/data,upperdir=/u\\054x,workdir=/w,userxattr",
  "garbage line",
  "",
].join("\n");

describe("mountinfo", () => {
  test("octal escapes decode to space, tab, newline, backslash", () => {
    expect(unescapeOctal("a\\040b\\011c\\012d\\134e")).toBe("a b\tc\nd\\e");
    expect(unescapeOctal("plain")).toBe("plain");
  });

  test("lines split into mount point, type, source and super options; bad lines are skipped", () => {
    const all = parseMountinfo(FIXTURE);
    expect(all.map((m) => m.mountPoint)).toEqual(["/", "/proc", "/", "/merged dir"]);
    expect(all[3]!.source).toBe("my\tsrc");
    expect(parseMountinfoLine("garbage line")).toBeNull();
  });

  test("lowerdir lists: escaped colons, several layers, data-only layers after ::", () => {
    expect(splitLowerdir("/run/ro root\\:1:/run/base")).toEqual({ lowers: ["/run/ro root:1", "/run/base"], dataOnly: [] });
    expect(splitLowerdir("/a::/data1::/data2")).toEqual({ lowers: ["/a"], dataOnly: ["/data1", "/data2"] });
    expect(splitLowerdir("/x\\\\y")).toEqual({ lowers: ["/x\\y"], dataOnly: [] });
  });

  test("the overlay visible at / is the last mount there, with its layers", () => {
    const ov = findOverlay(parseMountinfo(FIXTURE), "/");
    expect(ov).toBeDefined();
    expect(overlayOptions(ov!)).toEqual({
      upper: "/run/overlay/upper",
      work: "/run/overlay/work",
      lowers: ["/run/ro root:1", "/run/base"],
      userxattr: false,
    });
  });

  test("escaped mount point, escaped comma in upperdir, userxattr", () => {
    const o = overlayOptions(findOverlay(parseMountinfo(FIXTURE), "/merged dir")!);
    expect(o).toEqual({ upper: "/u,x", work: "/w", lowers: ["/a"], userxattr: true });
  });

  test("a later non-overlay mount hides an overlay; no overlay at a point gives undefined", () => {
    const text = FIXTURE + "\n40 22 0:40 / / rw - tmpfs tmpfs rw";
    expect(findOverlay(parseMountinfo(text), "/")).toBeUndefined();
    expect(findOverlay(parseMountinfo(FIXTURE), "/proc")).toBeUndefined();
  });

  test("lowerdir+ options (new mount API) append layers", () => {
    const e = parseMountinfoLine("50 22 0:50 / /m rw - overlay overlay rw,lowerdir+=/l1,lowerdir+=/l\\0402,upperdir=/u,workdir=/w")!;
    expect(overlayOptions(e).lowers).toEqual(["/l1", "/l 2"]);
  });
});
