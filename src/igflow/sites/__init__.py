"""The organisation, its infusion centres (hours, closed dates, chairs, nurse staffing) and home infusion."""
