"""GitHub-facing pieces: events and commands, the repository's `.lit2code.toml`, the REST client (githubkit),
git over HTTPS with a short-lived token, and what lit2code writes back (PR body, check run, status comment)."""
