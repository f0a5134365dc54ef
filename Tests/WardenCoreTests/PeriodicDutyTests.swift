import Synchronization
import Testing
import WardenCore

/// A node alone does the periodic jobs; a cluster's node when its decision says so, asked anew each time.
struct PeriodicDutyTests {
    @Test func aNodeAloneIsOnDutyAndAClustersNodeWhenItsDecisionSaysSo() {
        let duty = PeriodicDuty()
        #expect(duty.isThisNode)
        let first = Mutex(false)
        duty.assign { first.withLock { $0 } }
        #expect(!duty.isThisNode)
        first.withLock { $0 = true }
        #expect(duty.isThisNode)
    }
}
