"""What one-stop-shop staff do: join with a code, the at-risk warning, the apology and its slip, complaints."""
