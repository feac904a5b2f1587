// Destructive tools ask first: the first call of one is answered, without
// reaching the server, with a message asking to repeat the call to
// confirm; the same caller making the same call (same tool, same
// arguments) within two minutes goes through. The pending confirmation is
// a store entry that expires by itself, so a forgotten one costs nothing.
const DESTRUCTIVE = new Set(["delete_entities", "delete_observations", "delete_relations"]);
const CONFIRM_WITHIN = "2m";

// who names the caller: a JWT's subject, else a static token's name, else
// the session (a local caller).
function who(caller) {
  if (caller.auth === "jwt") return `sub:${caller.subject}`;
  if (caller.token) return `token:${caller.token}`;
  return `session:${caller.session}`;
}

// fingerprint is a short, stable digest of the arguments (FNV-1a over
// their JSON), so that the key stays small whatever the arguments are.
function fingerprint(args) {
  const s = JSON.stringify(args);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16);
}

export function toolCall({ caller, tool, arguments: args }) {
  if (!DESTRUCTIVE.has(tool)) return;
  const key = `confirm:${who(caller)}:${tool}:${fingerprint(args)}`;
  if (store.delete(key)) {
    audit.add("confirmed", tool);
    return; // the second call: go ahead
  }
  store.set(key, { asked: new Date().toISOString() }, { ttl: CONFIRM_WITHIN });
  audit.add("confirmation", "asked");
  return {
    result: {
      content: [{
        type: "text",
        text: `${tool} cannot be undone. To go ahead, call ${tool} again with the same arguments within 2 minutes.`,
      }],
      isError: true,
    },
  };
}
