"""What citizens do: link a chat after consent, answer the survey, rate, complain, opt out, erase their data."""
