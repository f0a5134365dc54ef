#ifndef CWARDEN_CLOCK_H
#define CWARDEN_CLOCK_H

/// Whether the kernel says the system clock is synchronised (NTP): adjtimex reads the state without changing
/// it. Returns 1 when synchronised, 0 when not, -1 where the system cannot tell.
int warden_clock_is_synchronized(void);

#endif
