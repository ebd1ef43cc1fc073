"""cocore services, one package per protocol role."""
