"""The records the agent writes (provider, attestation, receipt) and the policy it reads."""
