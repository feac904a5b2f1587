// Redact secrets from everything servers send back, before any client sees
// them: tool results (text, structured content, embedded resources),
// resources/read, prompts/get. The global redact(result, fn) applies fn to
// every text a result carries, so no copy of a secret is missed; it returns
// the result itself when nothing changed.
const SECRETS = [
  /sk-[A-Za-z0-9_-]{16,}/g, // API keys in the style of OpenAI's
  /AKIA[0-9A-Z]{16}/g, // AWS access key ids
  /gh[pousr]_[A-Za-z0-9]{36,}/g, // GitHub tokens
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

const hide = (text) => SECRETS.reduce((out, re) => out.replace(re, "[REDACTED]"), text);

export function toolResult({ result }) {
  const out = redact(result, hide);
  if (out !== result) return { result: out };
}

// Every other answer: resources/read, prompts/get, completion/complete, ...
export function response({ result }) {
  const out = redact(result, hide);
  if (out !== result) return { result: out };
}
