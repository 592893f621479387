using LLaDA.Diffusion.Data.Unicode;
using Xunit;

namespace LLaDA.Tests.Diffusion.Data;

public class UnicodeNormalizerTests
{
    [Theory]
    [InlineData("A\u030A", "\u00C5")]                 // composition
    [InlineData("\u212B", "\u00C5")]                  // singleton (ANGSTROM SIGN)
    [InlineData("\u2126", "\u03A9")]                  // singleton (OHM SIGN)
    [InlineData("\uF900", "\u8C48")]                  // CJK compatibility ideograph
    [InlineData("\U0002F803", "\U00020122")]          // astral compatibility ideograph → astral
    [InlineData("\u0958", "\u0915\u093C")]            // composition exclusion stays decomposed
    [InlineData("a\u0323\u0302", "\u1EAD")]           // ậ
    [InlineData("a\u0302\u0323", "\u1EAD")]           // canonical reordering, then composition
    [InlineData("\u1100\u1161\u11A8", "\uAC01")]      // conjoining jamo → Hangul syllable
    [InlineData("\uAC00\u11A8", "\uAC01")]            // LV + T
    [InlineData(">\u0338", "\u226F")]                 // ≯
    [InlineData("a\uFFFEe\u0301", "a\uFFFE\u00E9")]   // U+FFFE passes through (string.Normalize throws on it)
    [InlineData("\u0301e", "\u0301e")]                // a leading mark stays
    [InlineData("a\u0898\u0323", "a\u0898\u0323")]    // U+0898 (Unicode 14) is a starter in Unicode 9.0: no reordering past it
    [InlineData("plain ASCII and 漢字", "plain ASCII and 漢字")]
    public void Nfc_KnownCases_MatchUnicode9(string input, string expected) => Assert.Equal(expected, UnicodeNormalizer.Nfc(input));

    [Theory]
    [InlineData("\u00C5", "A\u030A")]
    [InlineData("\uAC01", "\u1100\u1161\u11A8")]
    [InlineData("\u1EAD", "a\u0323\u0302")]
    [InlineData("\U0002F803", "\U00020122")]
    public void Nfd_KnownCases_Decompose(string input, string expected) => Assert.Equal(expected, UnicodeNormalizer.Nfd(input));

    [Fact]
    public void Nfc_OfNfd_IsNfcForEveryUnicode9Composite()
    {
        for (int cp = 0xC0; cp < 0x2000; cp++)
        {
            string s = char.ConvertFromUtf32(cp);
            string nfc = UnicodeNormalizer.Nfc(s);
            Assert.Equal(nfc, UnicodeNormalizer.Nfc(UnicodeNormalizer.Nfd(s)));
            Assert.Equal(UnicodeNormalizer.Nfd(s), UnicodeNormalizer.Nfd(nfc));
        }
    }
}
