// Connect to the event stream
const eventSource = new EventSource('http://localhost:3000/sse');
// First you'll receive the endpoint information
eventSource.addEventListener('endpoint', (event) => {
console.log('Received endpoint path:', event.data);
});
// Then you'll receive JSON-RPC responses
eventSource.addEventListener('message', (event) => {
const response = JSON.parse(event.data);
console.log('Received JSON-RPC response:', response);
});
// Make a tool call
async function callTool() {
const response = await fetch('http://localhost:3000/sse/messages', {
method: 'POST',
headers: {
'Content-Type': 'application/json',
'Authorization': 'Bearer your-secure-token-here'
},
body: JSON.stringify({
jsonrpc: '2.0',
id: 1,
method: 'tools/call',
params: {
server: 'fetch',
tool: 'fetch',
arguments: {
url: 'https://modelcontextprotocol.io'
}
}
})
});
const result = await response.json();
console.log('Tool call initiated:', result);
// Actual response will come through the SSE event stream
}
