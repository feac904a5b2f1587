// Redact secrets from tool results before any client sees them.
const SECRETS = [
  /sk-[A-Za-z0-9_-]{16,}/g, // API keys in the style of OpenAI's
  /AKIA[0-9A-Z]{16}/g, // AWS access key ids
  /gh[pousr]_[A-Za-z0-9]{36,}/g, // GitHub tokens
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

function redact(text) {
  let out = text;
  for (const re of SECRETS) out = out.replace(re, "[REDACTED]");
  return out;
}

export function toolResult({ result }) {
  let changed = false;
  const content = (result.content || []).map((item) => {
    if (item.type !== "text") return item;
    const text = redact(item.text);
    if (text === item.text) return item;
    changed = true;
    return { ...item, text };
  });
  if (changed) return { result: { ...result, content } };
}
