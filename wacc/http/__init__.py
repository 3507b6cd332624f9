"""HTTP infrastructure shared by every feature's controllers."""
