#include "CWardenClock.h"

#if __has_include(<sys/timex.h>)
#include <sys/timex.h>
#endif

int warden_clock_is_synchronized(void) {
#if defined(TIME_ERROR) && defined(STA_UNSYNC)
    struct timex state = {0};  // modes 0: read only
    int answer = adjtimex(&state);
    if (answer < 0) return -1;
    return answer != TIME_ERROR && (state.status & STA_UNSYNC) == 0;
#else
    return -1;
#endif
}
