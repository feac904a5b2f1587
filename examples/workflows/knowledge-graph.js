// Builds a small knowledge graph in @modelcontextprotocol/server-memory and
// queries it.
//
//   mcpscript run examples/workflows/knowledge-graph.js -c examples/workflows/config.json [-- QUERY]
//
// The graph is kept in $MEMORY_FILE_PATH (default
// /tmp/mcpscript-knowledge-graph.jsonl). Running the workflow again adds
// nothing new: the server skips entities, relations and observations it
// already has.

const entities = [
  { name: "Go", entityType: "language", observations: ["designed at Google in 2007", "compiled and garbage-collected"] },
  { name: "C", entityType: "language", observations: ["developed at Bell Labs in the early 1970s"] },
  { name: "Unix", entityType: "operating system", observations: ["first written at Bell Labs in 1969"] },
  { name: "Ken Thompson", entityType: "person", observations: ["created the B language"] },
  { name: "Rob Pike", entityType: "person", observations: ["co-created UTF-8 with Ken Thompson"] },
  { name: "Robert Griesemer", entityType: "person", observations: ["worked on the V8 JavaScript engine"] },
  { name: "Bell Labs", entityType: "organization", observations: ["research lab in Murray Hill, New Jersey"] },
  { name: "Google", entityType: "organization", observations: ["where Go was started"] },
];

const relations = [
  ["Ken Thompson", "designed", "Go"],
  ["Rob Pike", "designed", "Go"],
  ["Robert Griesemer", "designed", "Go"],
  ["Ken Thompson", "co-created", "Unix"],
  ["Ken Thompson", "worked at", "Bell Labs"],
  ["Rob Pike", "worked at", "Bell Labs"],
  ["Go", "is influenced by", "C"],
  ["Unix", "is written in", "C"],
].map(([from, relationType, to]) => ({ from, to, relationType }));

// The memory server answers with structured content; older versions only
// with JSON text.
const data = (res) => res.structuredContent ?? JSON.parse(res.text);

export default async function main(args) {
  const query = args.join(" ") || "Bell Labs";
  // Every call rejects when the tool reports an error, so nothing fails silently.
  const memory = mcp.server("memory", { throwOnError: true });

  const created = data(await memory.callTool("create_entities", { entities })).entities;
  const linked = data(await memory.callTool("create_relations", { relations })).relations;
  const observed = data(await memory.callTool("add_observations", {
    observations: [
      { entityName: "Go", contents: ["version 1.0 released in March 2012"] },
      { entityName: "Rob Pike", contents: ["wrote The Practice of Programming with Brian Kernighan"] },
    ],
  })).results;
  const added = observed.reduce((n, r) => n + r.addedObservations.length, 0);
  print(`Stored: ${created.length} new entities, ${linked.length} new relations, ${added} new observations.`);

  const graph = data(await memory.callTool("read_graph", {}));
  print(`The graph has ${graph.entities.length} entities and ${graph.relations.length} relations.`);
  print();

  const go = data(await memory.callTool("open_nodes", { names: ["Go"] }));
  for (const e of go.entities) {
    print(`${e.name} (${e.entityType}):`);
    for (const o of e.observations) print(`  - ${o}`);
  }
  const designers = graph.relations
    .filter((r) => r.to === "Go" && r.relationType === "designed")
    .map((r) => r.from)
    .sort();
  print(`Designed by: ${designers.join(", ")}`);
  print();

  const found = data(await memory.callTool("search_nodes", { query }));
  const names = found.entities.map((e) => e.name).sort();
  print(`Search "${query}": ${names.length} entities: ${names.join(", ")}`);
  for (const r of found.relations) print(`  ${r.from} ${r.relationType} ${r.to}`);
}
