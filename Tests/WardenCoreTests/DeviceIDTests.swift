import Foundation
import Testing
import WardenCore

struct DeviceIDTests {
    @Test(arguments: ["a", "device-1", "Dev.1+2%3_#*?!(),=@$'", String(repeating: "x", count: 128)])
    func acceptsAzureCharacters(_ id: String) throws {
        #expect(try DeviceID(id).rawValue == id)
    }

    @Test(arguments: [
        ("", "empty"), ("a b", "U+20 at position 2"), ("a/b", "'/' at position 2"), ("dév", "'é' at position 2"),
        ("a\u{0}b", "U+0 at position 2"), (String(repeating: "x", count: 129), "129 characters"), ("a:b", "':'"),
    ])
    func rejectsAndNamesTheCharacter(_ id: String, _ expected: String) {
        #expect {
            try DeviceID(id)
        } throws: { error in
            guard let error = error as? WardenError else { return false }
            return error.code == .deviceInvalidID && error.reason.contains(expected)
        }
    }

    @Test func isCaseSensitive() throws {
        #expect(try DeviceID("Sensor") != DeviceID("sensor"))
    }

    @Test func decodingValidates() throws {
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode([DeviceID].self, from: Data(#"["ok","not ok"]"#.utf8))
        }
    }
}
