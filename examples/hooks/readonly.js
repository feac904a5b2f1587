// Read-only filesystem: the "fs" server's tools that change files are
// hidden from tool lists and refused if called anyway.
const WRITES = new Set(["write_file", "edit_file", "create_directory", "move_file"]);

export function listTools({ server, items }) {
  if (server !== "fs") return;
  return { items: items.filter((tool) => !WRITES.has(tool.name)) };
}

export function toolCall({ server, tool }) {
  if (server === "fs" && WRITES.has(tool)) {
    return { deny: `${tool} is not allowed: the filesystem is read-only` };
  }
}
