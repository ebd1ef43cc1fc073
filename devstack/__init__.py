"""The whole cocore stack on 127.0.0.1 for one machine: `make up`, `make down`, `make demo`."""
