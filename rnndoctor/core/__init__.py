"""The diagnosis machinery: findings, the rule catalogue, the check registry, the engine, ranking."""
