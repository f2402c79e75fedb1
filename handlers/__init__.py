"""What people do, whatever the channel: citizens, staff, leaders and the one-stop-shop system."""
