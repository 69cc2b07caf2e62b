"""The admin console: a web page for admins and managers at /console/, built
on the public GraphQL API (docs/console.md)."""
