"""ragbus's tooling above the services: CLI, in-process stack, benchmarks, eval and dev servers."""
