"""Courses of infusion sessions, appointments in chairs, planning runs, slot suggestions and bookings."""
