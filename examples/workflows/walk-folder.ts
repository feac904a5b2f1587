/// <reference path="./mcpscript.d.ts" />
// Walks a folder through @modelcontextprotocol/server-filesystem and reports
// how many files and folders it holds, their sizes by extension, the largest
// files, and the first line of its README.
//
//   WALK_ROOT=$PWD/docs mcpscript run examples/workflows/walk-folder.ts -c examples/workflows/config.json [-- SUBFOLDER]
//
// The server may read only WALK_ROOT (an absolute path; default the
// config's folder). SUBFOLDER, relative to it, narrows the walk.

interface TreeEntry {
  name: string;
  type: "file" | "directory";
  children?: TreeEntry[];
}

interface FileInfo {
  path: string;
  size: number;
}

/** Folders not worth walking. */
const exclude = [".git", "node_modules"];

/** How many get_file_info calls run at once. */
const parallel = 8;

function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function extension(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "(none)";
}

/** Flattens directory_tree's JSON into file paths, counting folders. */
function flatten(entries: TreeEntry[], dir: string, files: string[]): number {
  let folders = 0;
  for (const e of entries) {
    const path = `${dir}/${e.name}`;
    if (e.type === "directory") {
      folders += 1 + flatten(e.children ?? [], path, files);
    } else {
      files.push(path);
    }
  }
  return folders;
}

export default async function main(args: string[]): Promise<void> {
  const fsServer = mcp.server("filesystem", { throwOnError: true });

  // The folder the server may read: the first of its allowed directories.
  const allowed = (await fsServer.callTool("list_allowed_directories", {})).text
    .split("\n")
    .slice(1)
    .filter((l) => l.trim() !== "");
  if (allowed.length === 0) {
    throw new Error("the filesystem server allows no directory");
  }
  const root = args[0] ? `${allowed[0]}/${args[0]}` : allowed[0];

  const tree: TreeEntry[] = JSON.parse(
    (await fsServer.callTool("directory_tree", { path: root, excludePatterns: exclude })).text,
  );
  const paths: string[] = [];
  const folders = flatten(tree, root, paths);

  // Sizes, a few calls at a time.
  const files: FileInfo[] = [];
  for (let i = 0; i < paths.length; i += parallel) {
    const batch = paths.slice(i, i + parallel);
    const infos = await Promise.all(batch.map((path) => fsServer.callTool("get_file_info", { path })));
    infos.forEach((info, j) => {
      const size = /^size: (\d+)$/m.exec(info.text);
      files.push({ path: batch[j], size: size ? Number(size[1]) : 0 });
    });
  }
  const total = files.reduce((sum, f) => sum + f.size, 0);

  print(`Folder ${root}`);
  print(`  ${plural(files.length, "file")}, ${plural(folders, "folder")}, ${formatSize(total)} (without ${exclude.join(", ")})`);

  const byExt = new Map<string, { count: number; bytes: number }>();
  for (const f of files) {
    const ext = extension(f.path.slice(f.path.lastIndexOf("/") + 1));
    const s = byExt.get(ext) ?? { count: 0, bytes: 0 };
    s.count++;
    s.bytes += f.size;
    byExt.set(ext, s);
  }
  if (byExt.size > 0) {
    print("  by extension:");
    const rows = [...byExt.entries()].sort((a, b) => b[1].bytes - a[1].bytes || a[0].localeCompare(b[0]));
    for (const [ext, s] of rows) {
      print(`    ${ext.padEnd(10)} ${plural(s.count, "file").padStart(11)} ${formatSize(s.bytes).padStart(11)}`);
    }
  }

  const largest = [...files].sort((a, b) => b.size - a.size || a.path.localeCompare(b.path)).slice(0, 3);
  if (largest.length > 0) {
    print("  largest:");
    for (const f of largest) {
      print(`    ${f.path.slice(root.length + 1)} (${formatSize(f.size)})`);
    }
  }

  // The first line of the README, if there is one at the top.
  const readme = tree.find((e) => e.type === "file" && /^readme(\.\w+)?$/i.test(e.name));
  if (readme) {
    const head = await fsServer.callTool("read_text_file", { path: `${root}/${readme.name}`, head: 1 });
    print(`  ${readme.name}: ${head.text.trim()}`);
  }
}
