"""The rooms of the simulation, one actor each: the client host, the server host (the listener), the
application that calls accept(), and a flood source. ``base.Core`` is what they share; the
simulation (``model.simulation``) combines them on one event list."""
