"""Small utilities every layer may use: errors, atomic writes, memory, process exit."""
