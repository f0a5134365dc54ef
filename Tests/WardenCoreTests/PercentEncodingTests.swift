import Testing
import WardenCore

struct PercentEncodingTests {
    @Test func escapesDecodeInEitherCaseAndPlusStaysPlus() {
        #expect(PercentEncoding.decodeText("a%2Fb%2fc+d") == "a/b/c+d")
        #expect(PercentEncoding.decodeText("%E2%9C%93") == "✓")
        #expect(PercentEncoding.decode(Array("x%00".utf8)) == .bytes([0x78, 0x00]))
    }

    @Test(arguments: [("%", 0), ("ab%4", 2), ("%zz", 0), ("ok%2Fthen%+1", 9), ("%%41", 0)])
    func aBrokenEscapeIsFoundWhereItStands(_ text: String, _ offset: Int) {
        #expect(PercentEncoding.decode(text.utf8) == .badEscape(at: offset))
        #expect(PercentEncoding.decodeText(text) == nil)
    }

    @Test func textThatIsNotUTF8AfterDecodingIsRefusedButAPathSegmentStaysAsItCame() {
        #expect(PercentEncoding.decodeText("%FF") == nil)
        #expect(PercentEncoding.decodePathSegment("%FF") == "%FF")
        #expect(PercentEncoding.decodePathSegment("dev%2D1") == "dev-1")
    }

    @Test func everythingButUnreservedIsEscapedInUpperCase() {
        #expect(PercentEncoding.encode("hub.example/devices/dev 1~_-") == "hub.example%2Fdevices%2Fdev%201~_-")
        #expect(PercentEncoding.encode("$.ct=a&b", alsoKeeping: "$") == "$.ct%3Da%26b")
        #expect(PercentEncoding.encode("✓") == "%E2%9C%93")
        let text = "a/b?c=d&e f+g%✓"
        #expect(PercentEncoding.decodeText(PercentEncoding.encode(text)) == text)
    }
}
