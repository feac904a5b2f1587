// For the tests only: answers every tool call with what the hook was given.
export function toolCall(call) {
  return { result: { content: [{ type: "text", text: JSON.stringify(call) }] } };
}
