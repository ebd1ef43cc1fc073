"""The provider agent: serves inference on a member's machine and signs what it served."""
