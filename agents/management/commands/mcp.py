from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.management.commands.issue_token import find_user
from agents.mcp_server import serve_stdio


class Command(BaseCommand):
    help = (
        "Serve the task tools over MCP on stdin and stdout, acting for one better-auth user (by "
        "email or id): for a local MCP client that starts Ironclad itself (docs/mcp.md)."
    )
    # stdout carries the protocol: Django's checks and anything else print to stderr, or nowhere.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="The user's email address or id.")

    def handle(self, *args: Any, user: str, **options: Any) -> None:
        serve_stdio(find_user(user))
