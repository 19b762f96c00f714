"""The Model Context Protocol server for AI agents: tools and resources over the same service
functions as the JSON API, served over stdio (`signals mcp`) and streamable HTTP (/mcp)."""
