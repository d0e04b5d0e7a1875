"""The operations: typed async functions registered in one catalog."""
