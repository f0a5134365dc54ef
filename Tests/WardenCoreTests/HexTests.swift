import Testing
import WardenCore

struct HexTests {
    @Test func everyByteIsTwoDigits() {
        #expect(Hex.encode([0x00, 0x0a, 0xa0, 0xff]) == "000aa0ff")
        #expect(Hex.encode([0x0a, 0x0b]) != Hex.encode([0xab]))
        #expect(Hex.encode([0xde, 0xad], uppercase: true) == "DEAD")
        #expect(Hex.encode([]) == "")
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.decode(Hex.encode(all)) == all)
        #expect(Hex.decode(Hex.encode(all, uppercase: true)) == all)
    }

    @Test(arguments: ["0", "abc", "+f", "-1", "0x", "zz", " 1", "１２"])
    func onlyPairsOfHexDigitsDecode(_ text: String) {
        #expect(Hex.decode(text) == nil)
    }
}
