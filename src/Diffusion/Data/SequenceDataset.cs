using LLaDA.Tensors.Random;

namespace LLaDA.Diffusion.Data;

/// <summary>Fixed-length token rows (B × L batches), shuffled per epoch by a Philox permutation so the data position is (epoch, index) and resumes exactly.</summary>
public sealed class SequenceDataset
{
    private readonly int[][] _rows;
    private readonly int[] _promptLengths;

    /// <param name="promptLengths">Per row, how many leading tokens are prompt (never noised in SFT); null for pre-training data.</param>
    public SequenceDataset(IReadOnlyList<int[]> rows, int length, IReadOnlyList<int>? promptLengths = null)
    {
        Length = length;
        _rows = rows.ToArray();
        _promptLengths = promptLengths?.ToArray() ?? new int[_rows.Length];
        if (_promptLengths.Length != _rows.Length) throw new ArgumentException("SequenceDataset: one prompt length per row");
        foreach (var r in _rows)
            if (r.Length != length) throw new ArgumentException($"SequenceDataset: a row has {r.Length} tokens, expected {length}");
        if (_rows.Length == 0) throw new ArgumentException("SequenceDataset: no rows");
    }

    public int Count => _rows.Length;
    public int Length { get; }
    public int[] this[int i] => _rows[i];

    /// <summary>Prompt length of row i (0 for pre-training rows).</summary>
    public int PromptLength(int i) => _promptLengths[i];

    /// <summary>True when some row has a prompt (SFT data).</summary>
    public bool HasPrompts => _promptLengths.Any(p => p > 0);

    /// <summary>SFT rows: [BOS] prompt answer [EOS], right-padded with EOS that counts as answer (SPEC §5.3); pairs that do not fit are cut from the answer's end.</summary>
    public static SequenceDataset PromptAnswer(IEnumerable<(int[] Prompt, int[] Answer)> pairs, int length, SpecialTokens sp)
    {
        var rows = new List<int[]>();
        var prompts = new List<int>();
        foreach (var (prompt, answer) in pairs)
        {
            var row = new int[length];
            int k = 0;
            if (sp.Bos is int bos) row[k++] = bos;
            foreach (int t in prompt)
            {
                if (k >= length - 1) throw new ArgumentException($"PromptAnswer: a prompt of {prompt.Length} tokens leaves no room for an answer in length {length}");
                row[k++] = t;
            }
            int p = k;
            for (int i = 0; i < answer.Length && k < length; i++) row[k++] = answer[i];
            while (k < length) row[k++] = sp.Eos;
            rows.Add(row);
            prompts.Add(p);
        }
        return new SequenceDataset(rows, length, prompts);
    }

    /// <summary>One document per row: [BOS] ids [EOS], right-padded with the pad id (EOS for LLaDA) to L; longer documents are cut.</summary>
    public static SequenceDataset PerDocument(IEnumerable<int[]> docs, int length, SpecialTokens sp)
    {
        var rows = new List<int[]>();
        foreach (var d in docs)
        {
            var row = new int[length];
            int k = 0;
            if (sp.Bos is int bos && k < length) row[k++] = bos;
            for (int i = 0; i < d.Length && k < length; i++) row[k++] = d[i];
            if (k < length) row[k++] = sp.Eos;
            while (k < length) row[k++] = sp.PadId;
            rows.Add(row);
        }
        return new SequenceDataset(rows, length);
    }

    /// <summary>Sequence packing for pre-training: documents joined with EOS and cut into windows of L tokens (the tail is dropped).</summary>
    public static SequenceDataset Packed(IEnumerable<int[]> docs, int length, SpecialTokens sp)
    {
        var stream = new List<int>();
        foreach (var d in docs)
        {
            if (sp.Bos is int bos) stream.Add(bos);
            stream.AddRange(d);
            stream.Add(sp.Eos);
        }
        var rows = new List<int[]>();
        for (int s = 0; s + length <= stream.Count; s += length) rows.Add(stream.GetRange(s, length).ToArray());
        return new SequenceDataset(rows, length);
    }

    /// <summary>Splits off every k-th row as a held-out set (deterministic).</summary>
    public (SequenceDataset Train, SequenceDataset HeldOut) Split(int every)
    {
        var train = new List<int[]>();
        var held = new List<int[]>();
        var trainP = new List<int>();
        var heldP = new List<int>();
        for (int i = 0; i < _rows.Length; i++)
        {
            bool h = i % every == every - 1;
            (h ? held : train).Add(_rows[i]);
            (h ? heldP : trainP).Add(_promptLengths[i]);
        }
        if (held.Count == 0)
        {
            held.Add(_rows[^1]);
            heldP.Add(_promptLengths[^1]);
        }
        return (new SequenceDataset(train, Length, trainP), new SequenceDataset(held, Length, heldP));
    }

    /// <summary>Row order of an epoch: a Fisher–Yates shuffle driven by Philox(seed, epoch).</summary>
    public int[] EpochOrder(ulong seed, int epoch)
    {
        var order = new int[_rows.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = (int)(Philox.Word(seed, 0xDA7A_0000UL + (ulong)epoch * 0x1_0000_0000UL, i) % (uint)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}

/// <summary>Where a data loader stands: the epoch and the next index into its shuffled order.</summary>
public readonly record struct DataPosition(int Epoch, int Index);

/// <summary>Draws B × L batches from a dataset in epoch order; its position is saved in checkpoints so a resumed run sees the same batches.</summary>
public sealed class BatchLoader(SequenceDataset data, int batch, ulong seed, DataPosition start = default)
{
    private int[]? _order;
    private int _orderEpoch = -1;

    public DataPosition Position { get; private set; } = start;
    public int Batch => batch;
    public int Length => data.Length;

    /// <summary>The next batch as row-major ids (B·L).</summary>
    public int[] Next() => Next(out _);

    /// <summary>Moves past <paramref name="rows"/> rows without reading them (the rows other data-parallel ranks take), wrapping epochs as <see cref="Next(out int[])"/> does.</summary>
    public void Skip(int rows)
    {
        var (epoch, index) = Position;
        for (int r = 0; r < rows; r++)
        {
            if (index >= data.Count)
            {
                epoch++;
                index = 0;
            }
            index++;
        }
        Position = new DataPosition(epoch, index);
    }

    /// <summary>The next batch as row-major ids (B·L) and each row's prompt length.</summary>
    public int[] Next(out int[] promptLengths)
    {
        var ids = new int[batch * data.Length];
        promptLengths = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            var (epoch, index) = Position;
            if (index >= data.Count)
            {
                epoch++;
                index = 0;
            }
            if (_orderEpoch != epoch)
            {
                _order = data.EpochOrder(seed, epoch);
                _orderEpoch = epoch;
            }
            data[_order![index]].CopyTo(ids, b * data.Length);
            promptLengths[b] = data.PromptLength(_order[index]);
            Position = new DataPosition(epoch, index + 1);
        }
        return ids;
    }
}
