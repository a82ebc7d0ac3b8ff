"""Infrastructure as code: the JetStream topology every ragbus process declares."""
