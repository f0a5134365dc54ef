import Testing
import WardenCore

struct FormEncodingTests {
    @Test func fieldsArePlusAsSpaceThenPercentDecoded() {
        let fields = FormEncoding.fields("grant_type=client_credentials&client_secret=s+e%2Bcret&scope=&flag")
        #expect(fields == ["grant_type": "client_credentials", "client_secret": "s e+cret", "scope": "", "flag": ""])
    }

    @Test func aNameTwiceIsNoForm() {
        #expect(FormEncoding.fields("a=1&a=2") == nil)
        #expect(FormEncoding.fields("a=1&%61=2") == nil)
    }

    @Test(arguments: ["", "&&&", "=", "==", "=&=", "%", "%zz=%", "a=%FF", "\u{0}=\u{0}"])
    func hostileFormsReadWithoutTrapping(_ text: String) {
        _ = FormEncoding.fields(text)
    }

    @Test func aBrokenEscapeStaysAsItCame() {
        #expect(FormEncoding.decoded("100%") == "100%")
        #expect(FormEncoding.decoded("%FF+x") == "%FF+x")
    }

    @Test func writtenFieldsReadBack() {
        let fields = ["client id": "a+b&c=d ✓", "": "%"]
        let text = fields.map { "\(FormEncoding.encoded($0.key))=\(FormEncoding.encoded($0.value))" }
        #expect(FormEncoding.fields(text.joined(separator: "&")) == fields)
    }

    @Test func aCursorNamesItsKey() throws {
        #expect(try PageCursor.decode(PageCursor.encode("dev-0001/ü?")!) == "dev-0001/ü?")
    }

    @Test(arguments: ["!", "a", "%%%%", "_w", "/w=="])
    func aCursorTheAPIDidNotIssueIsRefused(_ cursor: String) {
        #expect(throws: WardenError.self) { try PageCursor.decode(cursor) }
    }
}
