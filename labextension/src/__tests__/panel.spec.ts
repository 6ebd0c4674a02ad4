/**
 * The words of the panel's header and badges.
 */
import { badgeLabels, engineLabel, kernelLabel } from '../panel';

describe('panel labels', () => {
  it('names the engine, never more than the model', () => {
    expect(engineLabel(null)).toBe('unknown');
    expect(engineLabel({ engine: 'builtin' })).toBe('built-in tutor');
    expect(engineLabel({ engine: 'llm', model: 'fake-tutor' })).toBe(
      'LLM · fake-tutor'
    );
    expect(engineLabel({ engine: 'llm' })).toBe('LLM');
  });

  it('says what the kernel does', () => {
    expect(kernelLabel(null)).toBe('no kernel');
    expect(kernelLabel('busy')).toBe('kernel busy');
    expect(kernelLabel('idle')).toBe('kernel idle');
    expect(kernelLabel('restarting')).toBe('kernel restarting');
  });

  it('labels hints and answers with their level, and how a message ended', () => {
    expect(badgeLabels({ kind: 'hint', level: 2, status: 'done' })).toEqual({
      kind: 'Hint · level 2 (hint)',
      status: null
    });
    expect(
      badgeLabels({ kind: 'answer', level: 3, status: 'streaming' })
    ).toEqual({ kind: 'Answer · level 3 (explanation)', status: 'answering…' });
    expect(
      badgeLabels({ kind: 'hint', level: null, status: 'stopped' })
    ).toEqual({ kind: 'Hint', status: 'stopped' });
    expect(badgeLabels({ kind: 'notice', status: 'error' })).toEqual({
      kind: 'Notice',
      status: 'could not finish'
    });
    expect(badgeLabels({ kind: 'question', status: 'done' })).toEqual({
      kind: null,
      status: null
    });
  });
});
