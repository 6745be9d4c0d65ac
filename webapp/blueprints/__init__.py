"""One package per area of the app; each registers a Blueprint."""
