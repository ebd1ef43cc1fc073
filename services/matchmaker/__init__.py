"""The matchmaker: holds provider streams, picks a provider per job and relays sealed chunks."""
