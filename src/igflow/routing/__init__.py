"""PURE core of home-visit routing: assign home visits to (nurse, day) and order each nurse-day into a route
from her home base and back, on OR-Tools' routing solver; a nearest-neighbour dispatcher as the baseline a
coordinator would do by hand; a checker independent of both; a lower bound on travel; repair after a nurse
calls in sick. No database, no HTTP, no clock."""
