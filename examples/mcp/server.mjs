// A small MCP server on stdio, written with the official TypeScript SDK:
// the kind of tool server an agent is given. examples/mcp_bridge.rs starts
// it and bridges its tools into an outrigger pool.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'notes', version: '1.0.0' });
const notes = new Map();

server.registerTool('add_note', {
  description: 'Saves a note under a title. Returns how many notes there are.',
  inputSchema: { title: z.string().min(1), text: z.string() },
  outputSchema: { count: z.number() },
}, async ({ title, text }) => {
  notes.set(title, text);
  const result = { count: notes.size };
  return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
});

server.registerTool('search_notes', {
  description: 'Finds the notes whose title or text contains a word.',
  inputSchema: { word: z.string() },
  outputSchema: { titles: z.array(z.string()) },
}, async ({ word }) => {
  const titles = [...notes].filter(([title, text]) => title.includes(word) || text.includes(word)).map(([title]) => title);
  return { content: [{ type: 'text', text: JSON.stringify({ titles }) }], structuredContent: { titles } };
});

server.registerTool('word_count', {
  description: 'Counts the words of a text.',
  inputSchema: { text: z.string() },
}, async ({ text }) => ({ content: [{ type: 'text', text: String(text.split(/\s+/).filter(Boolean).length) }] }));

await server.connect(new StdioServerTransport());
