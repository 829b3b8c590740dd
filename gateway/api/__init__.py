"""The incidents API for people and agents (`/v1/incidents/...`), served beside the intake: reads in `reads`,
actions in `actions`, who is calling in `auth` (and `gateway.callers`), bodies and answers in `bodies`, the routes
the app includes in `routes`. `gateway.remote` is its client."""
