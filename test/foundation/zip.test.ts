/** The deterministic Lambda package writer (scripts/lib/zip.ts): same code, same bytes; a valid archive. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, zipFiles } from "../../scripts/lib/zip";

describe("Lambda packages", () => {
  const files = { "index.js": Buffer.from("exports.handler = async () => 42;\n".repeat(50)), "lib/a.txt": Buffer.from("é") };

  it("are byte-identical for the same files, whatever order or time they are written in", () => {
    const reordered = { "lib/a.txt": files["lib/a.txt"], "index.js": files["index.js"] };
    expect(zipFiles(files).equals(zipFiles(reordered))).toBe(true);
    expect(zipFiles(files).equals(zipFiles({ ...files, "index.js": Buffer.from("changed") }))).toBe(false);
  });

  it("compute the standard CRC-32", () => {
    expect(crc32(Buffer.from("123456789")).toString(16)).toBe("cbf43926");
  });

  it("are archives another implementation reads back (Python's zipfile)", () => {
    const file = join(mkdtempSync(join(tmpdir(), "zip-")), "p.zip");
    writeFileSync(file, zipFiles(files));
    const out = execFileSync("python3", ["-c", "import sys,zipfile;z=zipfile.ZipFile(sys.argv[1]);assert z.testzip() is None;print(z.namelist(), z.read('index.js').decode().count('42'), z.read('lib/a.txt').decode(), z.infolist()[0].date_time)", file], { encoding: "utf8" });
    expect(out.trim()).toBe("['index.js', 'lib/a.txt'] 50 é (1980, 1, 1, 0, 0, 0)");
  });
});
