"""Command-line front end: parse, build `RenderParams`, call the library, map errors to exit codes."""
