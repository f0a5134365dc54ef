import Testing
import WardenCore

struct AccessListTests {
    let a: DeviceID
    let b: DeviceID
    let fleet: GroupName

    init() throws {
        a = try DeviceID("a")
        b = try DeviceID("b")
        fleet = try GroupName("fleet")
    }

    @Test func emptyListAllowsEveryone() {
        let list = AccessList(allow: .init(), block: .init(), etag: "")
        #expect(list.evaluate(a, groups: []) == .allowed)
    }

    @Test func blockWinsOverAllow() {
        let list = AccessList(allow: .init(devices: [a]), block: .init(groups: [fleet]), etag: "")
        #expect(list.evaluate(a, groups: [fleet]) == .blocked)
    }

    @Test func allowListExcludesOthers() {
        let list = AccessList(allow: .init(groups: [fleet]), block: .init(), etag: "")
        #expect(list.evaluate(a, groups: [fleet]) == .allowed)
        #expect(list.evaluate(b, groups: []) == .notAllowed)
    }
}
