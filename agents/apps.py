from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """What AI agents use: the task tools (tools.py), which the chat assistant calls too, and the MCP
    server over them (mcp_server.py; /mcp and `manage.py mcp`). Depends on todos, never the reverse."""

    name = "agents"
    verbose_name = "Agents (task tools and MCP)"
