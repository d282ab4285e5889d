"""Use cases of the home-therapy capability, one module per area: nurses (hours, skills, absences),
visits and routing runs, deliveries and their cold chain, the patient's self-infusion log."""
